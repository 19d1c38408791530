"""ssc: keeps a software-supply-chain graph current."""

__version__ = "0.1.0"
