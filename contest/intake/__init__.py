"""Entry intake: submission forms, uploads, receipts, edits and withdrawals."""
