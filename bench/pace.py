"""Feeds a file's lines into a pipe one chunk a second: the single process fed as a trickle
feeds a cluster worker (bench/cluster.sh, TOGETHER=1), for its reference.

    pace.py FILE FIFO BYTES_PER_SECOND
"""

import sys
import time


def main():
    path, fifo, rate = sys.argv[1], sys.argv[2], int(sys.argv[3])
    data = open(path, "rb").read()
    with open(fifo, "wb") as out:
        pos = 0
        while pos < len(data):
            # Whole lines only: each chunk ends at the first newline past `rate` bytes.
            end = data.find(b"\n", min(pos + rate, len(data) - 1))
            end = len(data) if end < 0 else end + 1
            out.write(data[pos:end])
            out.flush()
            pos = end
            if pos < len(data):
                time.sleep(1.0)


if __name__ == "__main__":
    main()
