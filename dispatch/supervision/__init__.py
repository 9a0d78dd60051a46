"""Supervision (督办): the sweep that acts on every open clock (`sweep`), the desk's figures
(`stats`)."""
