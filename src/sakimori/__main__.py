from sakimori.cli.main import main

main()
