print("reconcile: not wired yet")
