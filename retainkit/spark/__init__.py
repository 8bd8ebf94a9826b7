"""The Spark engine: the same rules as the local engine, on shards of customers.

``retainkit --engine spark`` and ``retainkit.read_orders(spark_dataframe)`` run here. pyspark
is imported only inside these modules' functions: the core install never needs it
(``pip install "retainkit[spark]"``; Spark needs Java 17 or newer).
"""

import warnings

# pyspark warns, once per import, that it was not yet tested with the pandas installed;
# retainkit's Spark tests are what tell whether the numbers are right.
warnings.filterwarnings("ignore", message="PySpark does not yet fully support", category=FutureWarning)
