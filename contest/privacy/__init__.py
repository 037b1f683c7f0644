"""Children's personal data: the privacy notice, access to what is held, erasure, retention."""
