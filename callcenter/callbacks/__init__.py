"""漏接回拨: call-back tasks for the callers the hotline did not answer (`service`)."""
