"""Results: ranking, prizes, publication, the winners' gallery, certificates and reports."""
