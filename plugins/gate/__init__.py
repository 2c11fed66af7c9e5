"""The upgrade gate: a read-only audit of an existing cluster for what breaks
when its nodes move from Docker (dockershim) to a CRI runtime."""
