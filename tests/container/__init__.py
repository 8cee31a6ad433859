"""Tests of the container image (Containerfile, docs/container.md): built and run with podman, and its publishing."""
