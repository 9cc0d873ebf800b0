"""The notification service: tells people what happened, in their language, and records it."""
