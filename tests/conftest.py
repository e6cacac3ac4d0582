"""Fixtures for the unit tests: an isolated data root per test and a guard against any network use."""

import socket

import pytest

from torch_book import modes


@pytest.fixture
def data_root(monkeypatch, tmp_path):
    """An empty data root for this test only."""
    root = tmp_path / "data"
    monkeypatch.setenv(modes.DATA_VAR, str(root))
    return root


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a socket fails the test."""
    def refuse(*args, **kwargs):
        raise AssertionError("a socket was opened")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
