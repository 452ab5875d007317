"""Print the versions of every package mmvisrep depends on."""
from mmvisrep.utils import collect_env

if __name__ == '__main__':
    for name, value in collect_env().items():
        print(f'{name}: {value}')
