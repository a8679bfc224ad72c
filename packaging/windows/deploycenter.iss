; Inno Setup script: a Windows installer for the one-folder bundle.
;
; On Windows, from the repository root:
;   py -3.11 -m venv .venv
;   .venv\Scripts\pip install .[test,postgres]
;   .venv\Scripts\pyinstaller --noconfirm --clean --distpath dist --workpath build\pyinstaller packaging\deploycenter.spec
;   "%ProgramFiles(x86)%\Inno Setup 6\ISCC.exe" packaging\windows\deploycenter.iss
; gives dist\deploycenter-<version>-setup.exe. The same deploycenter.exe opens the window when
; started from the Start menu (its console is hidden) and prints to the terminal with --unattended.
; Keep AppVersion equal to app.__version__ (a test checks it), or pass /DAppVersion=x.y.z to ISCC.
; deploycenter.ico comes from the PNG icons: python packaging\windows\make_ico.py.

#ifndef AppVersion
  #define AppVersion "1.0.0"
#endif

[Setup]
; The AppId identifies the product to Windows across versions: never change it.
AppId={{6E0C2B9A-8F4D-4C31-9E57-2D1B7A4C9F13}
AppName=Deploy Center
AppVersion={#AppVersion}
AppVerName=Deploy Center {#AppVersion}
AppPublisher=Deploy Center maintainers
DefaultDirName={autopf}\Deploy Center
DefaultGroupName=Deploy Center
UninstallDisplayIcon={app}\deploycenter.exe
LicenseFile=..\..\LICENSE
OutputDir=..\..\dist
OutputBaseFilename=deploycenter-{#AppVersion}-setup
SetupIconFile=deploycenter.ico
Compression=lzma2
SolidCompression=yes
WizardStyle=modern
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
; Per-user install by default (no administrator needed); the dialog offers all users too.
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
; Lets scripts and CI call "deploycenter --unattended ..." from any new terminal.
ChangesEnvironment=yes

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked
Name: "addtopath"; Description: "Add deploycenter to PATH (for scripts and CI)"; Flags: unchecked

[Files]
Source: "..\..\dist\deploycenter\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{group}\Deploy Center"; Filename: "{app}\deploycenter.exe"
Name: "{group}\{cm:UninstallProgram,Deploy Center}"; Filename: "{uninstallexe}"
Name: "{autodesktop}\Deploy Center"; Filename: "{app}\deploycenter.exe"; Tasks: desktopicon

[Registry]
Root: HKA; Subkey: "Environment"; ValueType: expandsz; ValueName: "Path"; ValueData: "{olddata};{app}"; Tasks: addtopath; Check: NotOnPath(ExpandConstant('{app}'))

[Run]
Filename: "{app}\deploycenter.exe"; Description: "{cm:LaunchProgram,Deploy Center}"; Flags: nowait postinstall skipifsilent

[Code]
function NotOnPath(Folder: string): Boolean;
var
  Current: string;
begin
  if not RegQueryStringValue(HKA, 'Environment', 'Path', Current) then
    Current := '';
  Result := Pos(';' + Uppercase(Folder) + ';', ';' + Uppercase(Current) + ';') = 0;
end;
