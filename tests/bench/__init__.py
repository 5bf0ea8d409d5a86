"""The benchmark harness stays runnable (bench/ itself is not collected)."""
