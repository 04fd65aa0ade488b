#!/usr/bin/python3
"""Derive kernel-tree/kb/pci.ids from Debian's pci.ids, once.

Keeps, in pci.ids format, the vendor line and every device line (not the
subsystem lines) of each vendor listed in kernel-tree/kb/vendors.tsv. The
result is committed: the kernel build and the corpus builder read the
committed file, never /usr/share/misc/pci.ids, so a different host cannot
change what the kernel knows.

    tools/kb/extract-pci-ids.py [/usr/share/misc/pci.ids] > kernel-tree/kb/pci.ids
"""
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
KB = os.path.join(HERE, '..', '..', 'kernel-tree', 'kb')


def vendor_ids():
    ids = []
    with open(os.path.join(KB, 'vendors.tsv'), encoding='utf-8') as f:
        for line in f:
            if line.startswith('#') or not line.strip():
                continue
            ids.append(line.split('\t')[0])
    return ids


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else '/usr/share/misc/pci.ids'
    want = set(vendor_ids())
    version = 'unknown'
    out = []
    keep = False
    with open(src, encoding='utf-8', errors='replace') as f:
        for line in f:
            m = re.match(r'^#\s*Version:\s*(\S+)', line)
            if m:
                version = m.group(1)
            if line.startswith('C '):  # device classes follow the vendors
                break
            m = re.match(r'^([0-9a-f]{4})  (.*)$', line.rstrip('\n'))
            if m:
                keep = m.group(1) in want
                if keep:
                    out.append(line.rstrip('\n'))
                continue
            if keep and re.match(r'^\t[0-9a-f]{4}  ', line):
                out.append(line.rstrip('\n'))
    print('# pci.ids subset for the AUTON knowledge base.')
    print('# Derived by tools/kb/extract-pci-ids.py from Debian\'s pci.ids (version %s):' % version)
    print('# the vendor and device lines of the vendors in vendors.tsv. Do not edit by hand;')
    print('# additions pci.ids lacks go in pci-extra.ids.')
    for line in out:
        print(line)


if __name__ == '__main__':
    main()
