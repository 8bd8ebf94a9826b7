from retainkit.cli import main

main()
