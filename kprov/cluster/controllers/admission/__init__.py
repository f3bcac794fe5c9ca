"""Controllers for the admission configuration kinds (ValidatingAdmissionPolicy status)."""
