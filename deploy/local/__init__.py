"""Running the whole platform on one machine: ``make run`` (supervisor), a local mail sink, and
the demo data loader (``make seed``)."""
