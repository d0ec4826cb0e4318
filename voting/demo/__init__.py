"""The demo campaign and the synthetic, simulated year."""
