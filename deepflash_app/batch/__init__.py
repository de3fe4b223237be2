"""Correcting folders of photos as a Ray Data job, on this machine or on a cluster."""
