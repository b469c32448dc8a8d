"""crmtools: reproducible CRM analytics for mail-order and e-commerce order histories."""

__version__ = "0.1.0"
