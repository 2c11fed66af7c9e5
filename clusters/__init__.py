"""crigate test bed: real kind clusters on containerd and CRI-O, built offline."""
