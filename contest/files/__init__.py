"""The life of a file: its kinds (``kinds``), what it is (``sniff``), what a drawing shows
(``images``), its metadata cleaners (``cleaners``, one module per format), where it is stored
(``keys``), the links that read it (``links``), the text a judge reads of it (``documents``),
and every limit on its bytes (``limits``)."""
