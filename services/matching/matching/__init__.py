"""The matching service: suggests companies to investors and investors to companies."""
