def create_app(*a, **k):  # replaced shortly
    raise RuntimeError
