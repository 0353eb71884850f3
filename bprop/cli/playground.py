"""``bprop playground``: the browser interface on a local web server."""


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "playground", help="watch backprop learn in the browser: train, draw, step by hand",
        description="Start a local web server and open a page with three views: Train (watch a network "
                    "learn toy data, digits or MNIST, live), Draw (draw a digit, see every layer) and Step "
                    "(one backpropagation step by hand, every number from bprop trace). Ctrl-C stops it.")
    parser.add_argument("--port", type=int, default=0, help="the port to listen on (default: a free one)")
    parser.add_argument("--host", default=None,
                        help="the address to listen on (default 127.0.0.1, this computer only; anything "
                             "else lets other machines train on yours)")
    parser.add_argument("--no-browser", action="store_true", help="print the address but do not open a browser")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--model", metavar="M.npz", help="open with a saved network (bprop train's model files)")
    source.add_argument("--run", dest="run_dir", metavar="RUN_DIR", help="open with a run folder's best model and its data set")
    parser.set_defaults(run=run)


def run(args):
    import os
    import sys

    # One BLAS thread per calling thread: the trainer's thread and the page's drawing thread
    # (and the browser) then share the cores instead of oversubscribing them with BLAS's
    # spinning workers. Set before NumPy loads; a value the user set is left alone.
    if not any(name in os.environ for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")):
        os.environ["OPENBLAS_NUM_THREADS"] = "1"

    from bprop.errors import InputError
    from bprop.playground.launch import open_model, start

    if not 0 <= args.port <= 65535:
        raise InputError(f"--port must be 0 (any free port) to 65535; got {args.port}")
    model, name, start_config = open_model(args.model, args.run_dir)
    host = args.host or "127.0.0.1"
    if args.host is not None and args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"bprop playground: warning: listening on {host}: anyone who can reach this address can use "
              f"the playground and this computer's processors", file=sys.stderr)
    server = start(host, args.port, model, name, start_config)
    print(f"bprop playground: {server.url}  (Ctrl-C to stop)", flush=True)
    if not args.no_browser:
        import webbrowser

        webbrowser.open(server.url)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        print("bprop playground: stopped", file=sys.stderr)
    finally:
        server.playground.close()
        server.server_close()
    return 0
