// Stack: bundle specs and compose hardening.
