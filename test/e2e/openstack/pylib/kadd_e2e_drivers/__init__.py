"""Agentless drivers for kadd's e2e OpenStack (no kernel privileges, no data path)."""
