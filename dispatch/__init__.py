"""Tickets: lifecycle, clocks, units and the dispatch catalogue."""
