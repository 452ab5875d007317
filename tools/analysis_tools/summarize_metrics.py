"""Print the last validation metrics of several work dirs side by side.

Reads the ``vis_data/scalars.json`` that mmengine's LocalVisBackend writes in each run folder
(the newest run of every work dir), so it works for any mmdet / mmseg / mmpretrain config.
"""
import argparse
import glob
import json
import os.path as osp


def last_metrics(work_dir: str) -> dict:
    """The last logged value of every validation metric in the newest run of ``work_dir``."""
    runs = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')))
    if not runs:
        raise FileNotFoundError(f'no */vis_data/scalars.json under {work_dir}: '
                                'did the training run and validate?')
    metrics = {}
    # An interrupted-then-resumed run logs into several run folders: read them in order.
    for path in runs:
        with open(path) as f:
            for lineno, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as err:
                    raise ValueError(f'{path}:{lineno}: not JSON ({err})') from err
                if 'loss' not in record:  # training lines carry the loss, val lines do not
                    metrics.update(record)
    return metrics


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('runs', nargs='+', help='NAME=WORK_DIR pairs (or plain WORK_DIRs)')
    parser.add_argument('--keys', nargs='+', required=True, help='metric names to print')
    return parser.parse_args()


def main():
    args = parse_args()
    rows = []
    for run in args.runs:
        name, _, work_dir = run.rpartition('=')
        metrics = last_metrics(work_dir)
        missing = [k for k in args.keys if k not in metrics]
        if missing:
            raise KeyError(f'{work_dir}: metrics {missing} were not logged; '
                           f'logged: {sorted(metrics)}')
        rows.append((name or work_dir, [metrics[k] for k in args.keys]))
    width = max(len(name) for name, _ in rows + [('run', None)])
    print(f'{"run":<{width}}  ' + '  '.join(f'{k:>16}' for k in args.keys))
    for name, values in rows:
        print(f'{name:<{width}}  ' + '  '.join(f'{v:>16.4f}' for v in values))


if __name__ == '__main__':
    main()
