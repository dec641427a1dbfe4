#!/usr/bin/env python3
"""A TCP proxy that adds a fixed one-way delay in each direction.

This kernel has no netem, so the WAN benchmark shapes the rate with tbf on a
veth pair and adds the latency here, in user space: every block read from
one side is written to the other side `delay` seconds after it arrived, in
order, so a request/response costs the round trip while bulk data keeps
flowing at the link's rate. At most `--window` bytes wait in each direction
(reading stops beyond that), which gives senders back-pressure like a real
link's bandwidth-delay product.

  delay_proxy.py --listen 127.0.0.1:PORT --target 10.x.y.z:PORT --delay-ms 20
"""
import argparse
import asyncio
import collections
import time


async def pump(reader, writer, delay, window):
    queue = collections.deque()
    queued = 0
    ready = asyncio.Event()
    space = asyncio.Event()
    space.set()
    done = False

    async def read_side():
        nonlocal queued, done
        try:
            while True:
                await space.wait()
                data = await reader.read(65536)
                if not data:
                    break
                queue.append((time.monotonic() + delay, data))
                queued += len(data)
                if queued >= window:
                    space.clear()
                ready.set()
        except (ConnectionError, OSError):
            pass
        done = True
        ready.set()

    async def write_side():
        nonlocal queued
        try:
            while True:
                while not queue:
                    if done:
                        return
                    ready.clear()
                    await ready.wait()
                due, data = queue[0]
                wait = due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                queue.popleft()
                queued -= len(data)
                if queued < window:
                    space.set()
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            try:
                if writer.can_write_eof():
                    writer.write_eof()
            except (ConnectionError, OSError):
                pass

    await asyncio.gather(read_side(), write_side())


async def handle(client_reader, client_writer, args):
    host, port = args.target.rsplit(":", 1)
    try:
        server_reader, server_writer = await asyncio.open_connection(host, int(port))
    except OSError:
        client_writer.close()
        return
    delay = args.delay_ms / 1000.0
    await asyncio.gather(
        pump(client_reader, server_writer, delay, args.window),
        pump(server_reader, client_writer, delay, args.window),
    )
    client_writer.close()
    server_writer.close()


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--listen", required=True)
    parser.add_argument("--target", required=True)
    parser.add_argument("--delay-ms", type=float, required=True, help="one-way delay")
    parser.add_argument("--window", type=int, default=4 << 20)
    args = parser.parse_args()
    host, port = args.listen.rsplit(":", 1)
    server = await asyncio.start_server(lambda r, w: handle(r, w, args), host, int(port))
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
