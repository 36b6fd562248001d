"""digits: find handwritten digits on scans, read them with an MNIST CNN, write CSVs."""

__version__ = "0.1.0"
