"""Generated CRI v1 stubs (see ../codegen.py); do not edit."""
