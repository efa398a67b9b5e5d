"""Retrieval-augmented simulator: replays recorded real calls offline, with provenance."""

from firefly_eval.simulator.index import CallIndex
from firefly_eval.simulator.records import read_records, records_to_parquet
from firefly_eval.simulator.simulator import SimAnswer, SimEpisode, Simulator

__all__ = ["CallIndex", "SimAnswer", "SimEpisode", "Simulator", "read_records", "records_to_parquet"]
