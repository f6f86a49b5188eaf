from kirin_api.cli import main

main()
