from mfa_env.main import main

if __name__ == "__main__":
    main()
