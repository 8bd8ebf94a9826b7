"""The Spark engine: the same rules as the local engine, on shards of customers.

``retainkit --engine spark`` and ``retainkit.read_orders(spark_dataframe)`` run here. pyspark
is imported only inside these modules' functions: the core install never needs it
(``pip install "retainkit[spark]"``; Spark needs Java 17 or newer).
"""
