"""Tests of contest.files: kinds, sniffing, drawings, documents."""
