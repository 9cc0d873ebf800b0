"""The registration service: attendees, companies and investors register for an expo."""
