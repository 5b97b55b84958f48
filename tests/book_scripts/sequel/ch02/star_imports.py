# coding: utf-8
# What each module gives on a star-import, one line per module.
import sys
sys.path.append('..')
import json

for name in sys.argv[1:]:
    namespace = {}
    exec('from %s import *' % name, namespace)
    print(json.dumps([name, sorted(k for k in namespace if k != '__builtins__')]))
