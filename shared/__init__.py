"""Code every service shares: configuration, store access, event contracts, outbox and inbox."""
