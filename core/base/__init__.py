"""The base every core package may use, and which imports none of them: core's exceptions
(`errors`), how typed input is read and every input limit (`parsing`), transactions and the
translation of database failures (`sessions`), write locks (`locking`), finding a row by a typed
id (`lookups`), JSON that is safe to store (`json_safe`), CSV that is safe to open
(`csv_export`), and how numbers read wherever a person reads them (`formatting`)."""
