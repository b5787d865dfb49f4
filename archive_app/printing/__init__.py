"""Documents that print: the embedded CJK font and the PDF/A properties every printed PDF carries."""
