"""acme-zoo: an example third-party plugin for zoo."""
