from salespilot.cli.main import main

main()
