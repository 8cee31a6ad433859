"""The benchmark harness behind `make bench`: one module per job, `bench/run.py` ties them together.

- `wrk.py`: the load generator (install, Lua script, one run, its output parsed).
- `noise.py`: how much of the pinned CPUs other processes took during a run.
- `workload.py`: the requests measured (the spec's documented example) and what a good answer is.
- `servers.py`: the servers measured, each started fresh: startup time, peak RSS, always stopped.
- `report.py`: medians, ratios to the ceiling, targets, the Markdown table.
- `memory.py`: RSS and bytes per task after storing many tasks in the mock's memory store.
- `hotpaths.py`: where the mock's create and query spend their time (cProfile, in process).
"""
