SELECT {{ident}}_hello('world') = 'hello, world' AS ok;
