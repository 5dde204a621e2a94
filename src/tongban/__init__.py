"""通办 Tongban — cross-province government services for the Yangtze River Delta."""

__version__ = "0.1.0"
