/**
 * The installer for Windows: a generated batch script started detached and hidden (`cmd /d /s /c`,
 * `windowsHide`) just before the app exits, plus a small runner script that starts the app.
 *
 * The scripts' text is fixed: every value (paths, pid, versions, the restart command line) comes in
 * through NOTSOTUF_* environment variables, which Windows keeps as UTF-16, so spaces and non-ASCII
 * survive without depending on the console code page. The scripts read them with delayed expansion
 * (`!VAR!`), which inserts a value after cmd has parsed the line, so `&`, `|`, `<`, `>`, `^`, `%` and
 * quotes in values are never taken as syntax. Limitation: Wine 8's cmd expands `!name!` inside values
 * again, so a `!` in a path or argument is lost there (real Windows and Wine 10 keep it).
 *
 * Idioms (see shared/notes/windows-under-wine.md): tasklist /FI with for /f (Windows, Wine 10), with
 * `wmic process get ProcessId` as a second opinion (Wine 8, whose tasklist prints nothing; Windows 11
 * may lack wmic, where tasklist answers); `ping -n 2 127.0.0.1` as a one-second sleep; `move` retried
 * on locked files; `del "%~f0" & exit /b` as the self-delete.
 *
 * Elevation: when the install folder cannot be renamed as this user, the script is started through
 * PowerShell `Start-Process -Verb RunAs`. An elevated process does not inherit the caller's
 * environment, so the launcher carries the values in a -EncodedCommand (base64 of UTF-16LE: no
 * quoting or code page issues) that sets them in the elevated process before it starts cmd.
 */
import type { SpawnOptions } from 'node:child_process';
import { win32 } from 'node:path';
import type { HandoverPlan } from './handover.js';
import { HANDOVER_ENV } from './handover.js';
import { confirmFilePath, failedDirFor, handoverResultPath } from './state-layout.js';
import type { HandoverFiles } from './state-layout.js';

/**
 * One argument as the Microsoft C runtime (CommandLineToArgvW) reads it back: quoted when it is empty
 * or holds a space, tab or quote; backslashes doubled only before a quote.
 */
export function windowsQuoteArg(arg: string): string {
  if (arg !== '' && !/[\s"]/.test(arg)) return arg;
  let out = '"';
  let backslashes = 0;
  for (const ch of arg) {
    if (ch === '\\') {
      backslashes += 1;
    } else if (ch === '"') {
      out += '\\'.repeat(backslashes * 2 + 1) + '"';
      backslashes = 0;
    } else {
      out += '\\'.repeat(backslashes) + ch;
      backslashes = 0;
    }
  }
  return out + '\\'.repeat(backslashes * 2) + '"';
}

export function windowsCommandLine(args: readonly string[]): string {
  return args.map(windowsQuoteArg).join(' ');
}

/**
 * The image name tasklist shows for a command (e.g. myapp.exe), or '' when it is not one the scripts
 * can put in a filter safely. (A name with a space works with tasklist; the wmic fallback only
 * matches one-word names.)
 */
function imageName(command: string): string {
  const base = win32.basename(command);
  return /^[A-Za-z0-9 ._-]{1,100}$/.test(base) ? base : '';
}

/** The values the scripts read, as environment variables. */
export function windowsEnv(plan: HandoverPlan, files: HandoverFiles): Record<string, string> {
  const restart = plan.restart;
  const health = restart !== undefined && plan.healthTimeoutSeconds > 0 ? plan.healthTimeoutSeconds : 0;
  return {
    NOTSOTUF_PID: String(plan.pid),
    NOTSOTUF_INSTALL_DIR: plan.installDir,
    NOTSOTUF_STAGING_DIR: plan.stagingDir,
    NOTSOTUF_BACKUP_DIR: plan.backupDir,
    NOTSOTUF_FAILED_DIR: failedDirFor(plan.installDir, plan.version),
    NOTSOTUF_LOG: files.log,
    NOTSOTUF_APP_LOG: files.appLog,
    NOTSOTUF_RESULT: handoverResultPath(plan.stateDir),
    NOTSOTUF_CONFIRM: confirmFilePath(plan.stateDir, plan.version),
    NOTSOTUF_EXITED: win32.join(files.dir, 'app-exited'),
    NOTSOTUF_RUNNER: files.runner,
    NOTSOTUF_PID_FILE: files.pidFile,
    NOTSOTUF_VERSION: plan.version,
    NOTSOTUF_PREVIOUS_VERSION: plan.previousVersion,
    NOTSOTUF_WAIT_TIMEOUT: String(plan.waitTimeoutSeconds),
    NOTSOTUF_HEALTH_TIMEOUT: String(health),
    NOTSOTUF_RESTART: restart === undefined ? '0' : '1',
    NOTSOTUF_RESTART_CMD: restart?.command ?? '',
    NOTSOTUF_RESTART_ARGS: restart === undefined ? '' : windowsCommandLine(restart.args),
    NOTSOTUF_RESTART_CWD: restart?.cwd ?? '',
    NOTSOTUF_RESTART_IMAGE: restart === undefined ? '' : imageName(restart.command),
  };
}

/**
 * The runner: starts the app (cwd, NOTSOTUF_HANDOVER=1, output to the app log), waits for it and
 * leaves its exit code in a marker file, which is how the installer learns that the new version
 * exited before it confirmed (the installer logs the code). Started hidden with `start "" /b`, so
 * it never opens a console. It never writes the installer's log itself: two processes appending
 * with `>>` at once can overwrite each other's line (seen under Wine, where "stopped the new
 * version" was lost to the runner's line written as the app was stopped).
 */
export function windowsRunner(): string {
  return `@echo off
rem notsotuf: starts the app for the installer (install.cmd). Generated; safe to delete.
setlocal EnableExtensions EnableDelayedExpansion
if defined NOTSOTUF_RESTART_CWD cd /d "!NOTSOTUF_RESTART_CWD!"
set ${HANDOVER_ENV}=1
"!NOTSOTUF_RESTART_CMD!" !NOTSOTUF_RESTART_ARGS! <nul >>"!NOTSOTUF_APP_LOG!" 2>&1
set CODE=!errorlevel!
rem Temp file, then move: the installer reads the code as soon as the marker exists.
>"!NOTSOTUF_EXITED!.tmp" echo !CODE!
move /y "!NOTSOTUF_EXITED!.tmp" "!NOTSOTUF_EXITED!" >nul 2>&1
exit /b 0
`;
}

/** The installer script. Its text does not depend on the plan (values come from windowsEnv). */
export function windowsScript(): string {
  return `@echo off
rem notsotuf installer: waits for the app to exit, swaps folders, restarts, checks health.
rem Generated by notsotuf; started hidden by the app just before it exits. Deletes itself.
setlocal EnableExtensions EnableDelayedExpansion
call :log installer started: !NOTSOTUF_PREVIOUS_VERSION! to !NOTSOTUF_VERSION!

rem 1. Wait for the app to exit.
call :log waiting for process !NOTSOTUF_PID! to exit, at most !NOTSOTUF_WAIT_TIMEOUT! s
set /a WAITED=0
:wait_pid
call :pid_alive
if not defined ALIVE goto pid_gone
if !WAITED! GEQ !NOTSOTUF_WAIT_TIMEOUT! goto wait_timeout
call :nap
set /a WAITED+=1
goto wait_pid
:wait_timeout
call :log process !NOTSOTUF_PID! is still running: nothing was changed
set "REASON=the app did not exit in time"
call :result failed
goto finish_failed
:pid_gone
call :log process !NOTSOTUF_PID! has exited after about !WAITED! s

rem 2. Swap by rename. A target that exists would make move nest the source inside it.
if not exist "!NOTSOTUF_STAGING_DIR!" (
  set "REASON=the staging folder is missing"
  goto swap_refused
)
if not exist "!NOTSOTUF_INSTALL_DIR!" (
  set "REASON=the install folder is missing"
  goto swap_refused
)
if exist "!NOTSOTUF_BACKUP_DIR!" (
  set "REASON=the backup path already exists"
  goto swap_refused
)
set "SRC=!NOTSOTUF_INSTALL_DIR!"
set "DST=!NOTSOTUF_BACKUP_DIR!"
call :move_dir
if errorlevel 1 (
  set "REASON=could not move the installed version aside"
  goto swap_refused
)
set "SRC=!NOTSOTUF_STAGING_DIR!"
set "DST=!NOTSOTUF_INSTALL_DIR!"
call :move_dir
if errorlevel 1 goto swap_undo
call :log swapped: the new version is in place, the previous one is in the backup folder
goto restart

:swap_refused
call :log !REASON!: nothing was changed
call :result failed
goto finish_failed

:swap_undo
call :log could not move the new version into place: putting the previous version back
set "REASON=could not move the new version into place"
set "SRC=!NOTSOTUF_BACKUP_DIR!"
set "DST=!NOTSOTUF_INSTALL_DIR!"
call :move_dir
if errorlevel 1 set "REASON=could not move the new version into place and could not restore the backup folder"
call :result failed
goto finish_failed

rem 3. Restart, then the health check: the new version must write the confirm file before it
rem    exits and within NOTSOTUF_HEALTH_TIMEOUT seconds.
:restart
if "!NOTSOTUF_RESTART!"=="1" (
  call :snapshot_pids
  call :start_app
) else (
  goto keep
)
if "!NOTSOTUF_HEALTH_TIMEOUT!"=="0" goto keep
call :log waiting for the new version to confirm, at most !NOTSOTUF_HEALTH_TIMEOUT! s
set /a LEFT=!NOTSOTUF_HEALTH_TIMEOUT!
:health
if exist "!NOTSOTUF_CONFIRM!" goto confirmed
if exist "!NOTSOTUF_EXITED!" (
  if exist "!NOTSOTUF_CONFIRM!" goto confirmed
  call :read_exit_code
  set "REASON=the new version exited with code !CODE! before confirming"
  goto roll_back
)
if !LEFT! LEQ 0 (
  set "REASON=the new version did not confirm within !NOTSOTUF_HEALTH_TIMEOUT! s"
  call :stop_new_app
  goto roll_back
)
call :nap
set /a LEFT-=1
goto health
:confirmed
call :log the new version confirmed

rem 4. Keep the new version: the backup is no longer needed.
:keep
rmdir /s /q "!NOTSOTUF_BACKUP_DIR!" >nul 2>&1
if exist "!NOTSOTUF_BACKUP_DIR!" (
  call :log could not remove the backup folder: the client removes it later
) else (
  call :log removed the backup folder
)
set "REASON="
call :result installed
goto finish_ok

:roll_back
call :log rolling back to !NOTSOTUF_PREVIOUS_VERSION!: !REASON!
if exist "!NOTSOTUF_FAILED_DIR!" rmdir /s /q "!NOTSOTUF_FAILED_DIR!" >nul 2>&1
set "SRC=!NOTSOTUF_INSTALL_DIR!"
set "DST=!NOTSOTUF_FAILED_DIR!"
call :move_dir
if errorlevel 1 (
  set "REASON=!REASON!; the roll back could not move the new version aside"
  call :result failed
  goto finish_failed
)
set "SRC=!NOTSOTUF_BACKUP_DIR!"
set "DST=!NOTSOTUF_INSTALL_DIR!"
call :move_dir
if errorlevel 1 (
  set "SRC=!NOTSOTUF_FAILED_DIR!"
  set "DST=!NOTSOTUF_INSTALL_DIR!"
  call :move_dir
  set "REASON=!REASON!; the roll back could not restore the previous version from the backup folder"
  call :result failed
  goto finish_failed
)
call :log restored the previous version
rmdir /s /q "!NOTSOTUF_FAILED_DIR!" >nul 2>&1
call :start_app
call :result rolled-back
goto finish_ok

:finish_ok
del "%~f0" >nul 2>&1 & exit /b 0
:finish_failed
del "%~f0" >nul 2>&1 & exit /b 1

rem ---- subroutines ----

rem Messages passed to :log hold no paths (cmd would parse & or > in them); paths are echoed directly.
:log
>>"!NOTSOTUF_LOG!" echo !DATE! !TIME! %*
exit /b 0

rem About one second (timeout and choice are missing under Wine).
:nap
ping -n 2 127.0.0.1 >nul 2>&1
exit /b 0

rem ALIVE=1 when process NOTSOTUF_PID exists, by tasklist or else by wmic.
:pid_alive
set ALIVE=
for /f "tokens=2 delims=," %%p in ('tasklist /FI "PID eq %NOTSOTUF_PID%" /NH /FO CSV 2^>nul') do if "%%~p"=="%NOTSOTUF_PID%" set ALIVE=1
if defined ALIVE exit /b 0
for /f "skip=1" %%p in ('wmic process get ProcessId 2^>nul') do if "%%p"=="%NOTSOTUF_PID%" set ALIVE=1
exit /b 0

rem PIDS = " pid pid ... " of the processes running the app's image: tasklist, or wmic where
rem tasklist prints nothing (Wine 8).
:image_pids
set "PIDS= "
if "%NOTSOTUF_RESTART_IMAGE%"=="" exit /b 0
for /f "tokens=2 delims=," %%p in ('tasklist /FI "IMAGENAME eq %NOTSOTUF_RESTART_IMAGE%" /NH /FO CSV 2^>nul') do set "PIDS=!PIDS!%%~p "
if not "!PIDS!"==" " exit /b 0
for /f "skip=1 tokens=1,2" %%a in ('wmic process get Name^,ProcessId 2^>nul') do if /i "%%a"=="%NOTSOTUF_RESTART_IMAGE%" set "PIDS=!PIDS!%%b "
exit /b 0

rem BEFORE = the app's pids before the start, to tell the new version's process from others.
:snapshot_pids
call :image_pids
set "BEFORE=!PIDS!"
exit /b 0

rem Stops the processes of the app's image that started after the snapshot (the new version).
rem Looked for a few times: on a busy machine the new process may still be starting.
:stop_new_app
set STOPPED=
set /a FIND_TRIES=0
:stop_new_app_again
call :image_pids
for %%p in (!PIDS!) do call :stop_if_new %%p
if defined STOPPED goto stop_new_app_done
set /a FIND_TRIES+=1
if !FIND_TRIES! GEQ 5 goto stop_new_app_missing
call :nap
goto stop_new_app_again
:stop_new_app_missing
call :log could not find the new version's process to stop it
:stop_new_app_done
call :nap
exit /b 0

:stop_if_new
set SEEN=
for %%q in (!BEFORE!) do if "%%q"=="%~1" set SEEN=1
if defined SEEN exit /b 0
taskkill /F /PID %~1 >nul 2>&1
set STOPPED=1
call :log stopped the new version, pid %~1
exit /b 0

:start_app
if exist "!NOTSOTUF_EXITED!" del "!NOTSOTUF_EXITED!" >nul 2>&1
rem "call" keeps cmd from stripping the quotes of a path with spaces (Wine's start needs it too).
start "" /b cmd /d /c call "!NOTSOTUF_RUNNER!"
call :log started the app
exit /b 0

rem Moves SRC to DST, retried for a few seconds while files are locked. errorlevel 1 when it failed.
:move_dir
set /a TRIES=0
:move_dir_again
move "!SRC!" "!DST!" >nul 2>&1
if not exist "!SRC!" if exist "!DST!" exit /b 0
set /a TRIES+=1
if !TRIES! GEQ 5 (
  >>"!NOTSOTUF_LOG!" echo !DATE! !TIME! could not move "!SRC!" to "!DST!" after !TRIES! tries
  exit /b 1
)
>>"!NOTSOTUF_LOG!" echo !DATE! !TIME! could not move "!SRC!" yet, a file may be in use: retrying
call :nap
goto move_dir_again

rem CODE = the exit code the runner left in its marker file (%-expansion: Wine's for /f does not
rem take a delayed-expansion path).
:read_exit_code
set CODE=
for /f "usebackq" %%c in ("%NOTSOTUF_EXITED%") do set CODE=%%c
if not defined CODE set CODE=unknown
call :log the app exited with code !CODE!
exit /b 0

rem Writes result.json by temp file and move. REASON is a fixed phrase from this script.
:result
if defined REASON (
  >"!NOTSOTUF_RESULT!.tmp" echo {"outcome":"%~1","version":"!NOTSOTUF_VERSION!","previousVersion":"!NOTSOTUF_PREVIOUS_VERSION!","reason":"!REASON!"}
) else (
  >"!NOTSOTUF_RESULT!.tmp" echo {"outcome":"%~1","version":"!NOTSOTUF_VERSION!","previousVersion":"!NOTSOTUF_PREVIOUS_VERSION!"}
)
del "!NOTSOTUF_PID_FILE!" >nul 2>&1
move /y "!NOTSOTUF_RESULT!.tmp" "!NOTSOTUF_RESULT!" >nul 2>&1
call :log result: %~1 !REASON!
exit /b 0
`;
}

/** A command to start, with its spawn options. */
export interface WindowsLaunch {
  /** Started through the elevated (UAC) launcher. */
  readonly elevated: boolean;
  readonly command: string;
  readonly args: readonly string[];
  readonly options: SpawnOptions;
}

/** PowerShell's -EncodedCommand: base64 of the UTF-16LE text. */
export function encodePowerShell(script: string): string {
  return Buffer.from(script, 'utf16le').toString('base64');
}

/**
 * A PowerShell single-quoted literal. PowerShell takes the typographic quotes U+2018-U+201B as
 * single quotes too (a path like `O’Brien` would end the literal): each quote is doubled.
 */
function psQuote(value: string): string {
  return `'${value.replace(/['\u2018\u2019\u201a\u201b]/g, (q) => q + q)}'`;
}

/**
 * How to start the installer: `cmd /d /s /c ""install.cmd""` detached and hidden with the values in
 * its environment; or, when `elevate`, PowerShell asking for elevation (UAC) and then doing the same
 * with the values set inside the elevated process.
 */
export function windowsLaunch(
  plan: HandoverPlan,
  files: HandoverFiles,
  options: { elevate: boolean; comspec?: string | undefined; baseEnv?: NodeJS.ProcessEnv },
): WindowsLaunch {
  const values = windowsEnv(plan, files);
  const base = options.baseEnv ?? process.env;
  const comspec = options.comspec ?? base['ComSpec'] ?? base['COMSPEC'] ?? 'cmd.exe';
  // /s with the whole command in one more pair of quotes: cmd strips exactly that pair.
  const cmdLine = `/d /s /c ""${files.script}""`;
  // cwd: a process's current folder cannot be renamed on Windows, and the app's cwd is often its
  // install folder: the installer must not inherit it.
  const common: SpawnOptions = { detached: true, windowsHide: true, stdio: 'ignore', cwd: files.dir };
  if (!options.elevate) {
    return {
      elevated: false,
      command: comspec,
      args: [cmdLine],
      options: { ...common, windowsVerbatimArguments: true, env: { ...base, ...values } },
    };
  }
  const inner = [
    ...Object.entries(values).map(([k, v]) => `$env:${k} = ${psQuote(v)}`),
    `Start-Process -FilePath ${psQuote(comspec)} -ArgumentList ${psQuote(cmdLine)} -WorkingDirectory ${psQuote(files.dir)} -WindowStyle Hidden`,
  ].join('\n');
  const outer =
    `Start-Process -FilePath 'powershell.exe' -Verb RunAs -WindowStyle Hidden -ArgumentList ` +
    `'-NoProfile -NonInteractive -WindowStyle Hidden -EncodedCommand ${encodePowerShell(inner)}'`;
  return {
    elevated: true,
    command: 'powershell.exe',
    args: [
      '-NoProfile',
      '-NonInteractive',
      '-WindowStyle',
      'Hidden',
      '-EncodedCommand',
      encodePowerShell(outer),
    ],
    options: { ...common, env: { ...base } },
  };
}
