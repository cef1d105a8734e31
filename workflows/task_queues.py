"""The worker's task queues: the main one, and beside it one for long outside waits."""


def waits_queue(main: str) -> str:
    """Where activities that hold their slot for minutes or hours run (a SHAMS site's
    connection check, waiting on a router that may not answer for days): a worker of their
    own polls it, so however many of them wait, the main queue's slots stay free for every
    case's short writes and calls."""
    return f"{main}-waits"
