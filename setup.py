"""Install mmvisrep; the heavy stack is installed by tools/misc/install_env.sh (make install)."""
import os.path as osp

from setuptools import find_packages, setup


def get_version() -> str:
    scope = {}
    with open(osp.join(osp.dirname(__file__), 'mmvisrep', 'version.py')) as f:
        exec(compile(f.read(), 'version.py', 'exec'), scope)
    return scope['__version__']


def parse_requirements(fname: str) -> list:
    """Requirement lines of one requirements file, comments and includes dropped."""
    path = osp.join(osp.dirname(__file__), 'requirements', fname)
    with open(path) as f:
        lines = (line.split('#')[0].strip() for line in f)
        return [line for line in lines if line and not line.startswith('-')]


if __name__ == '__main__':
    setup(
        name='mmvisrep',
        version=get_version(),
        description='Detection-aligned visual representation pretraining (SoCo, ORL, '
        'LocTex, semantic VLP losses, MUG) as OpenMMLab 2.0 plugins',
        long_description=open('README.md', encoding='utf-8').read(),
        long_description_content_type='text/markdown',
        author='mmvisrep contributors',
        license='Apache License 2.0',
        packages=find_packages(exclude=('configs', 'tools', 'tests', 'docs')),
        include_package_data=True,
        python_requires='>=3.9',
        install_requires=parse_requirements('runtime.txt'),
        extras_require={
            'mim': parse_requirements('mminstall.txt'),
            'tests': parse_requirements('tests.txt'),
            'optional': parse_requirements('optional.txt'),
        },
        zip_safe=False)
