from plandeck.cli.main import main

main()
